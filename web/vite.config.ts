/**
 * Builds the web UI into web/dist, which the node serves (`npm run build`).
 * `npx vite web` serves it with hot reload and forwards /api (HTTP and the
 * event WebSocket) to a running node: TUTTI_API_URL, default http://127.0.0.1:7707.
 * Open the dev server with the node's #token=… fragment.
 */
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

const apiUrl = process.env.TUTTI_API_URL ?? 'http://127.0.0.1:7707'

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    // No inline <script>/modulepreload polyfill: the node's CSP allows scripts from 'self' only.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  server: {
    proxy: {
      // The node checks Host and Origin: present the node's own to it (dev only;
      // the token is still required).
      '/api': {
        target: apiUrl,
        changeOrigin: true,
        ws: true,
        configure: (proxy) => {
          proxy.on('proxyReq', (req) => req.setHeader('origin', new URL(apiUrl).origin))
          proxy.on('proxyReqWs', (req) => req.setHeader('origin', new URL(apiUrl).origin))
        },
      },
    },
  },
})
