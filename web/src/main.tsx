/** Entry point: adopt the token from the URL fragment, then render the app. */
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { adoptTokenFromLocation } from './api.ts'
import { App } from './app.tsx'
import './styles.css'

adoptTokenFromLocation()

const root = document.getElementById('root')
if (root === null) throw new Error('index.html has no #root')
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
)
