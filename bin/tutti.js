#!/usr/bin/env node
// Launcher: runs the TypeScript CLI on the Node 24 that `npm install` put in
// node_modules (the system Node may be older), passing arguments, signals and exit code through.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bundled = join(root, 'node_modules', 'node', 'bin', 'node')
const major = Number(process.versions.node.split('.')[0])
const node = major >= 24 ? process.execPath : existsSync(bundled) ? bundled : process.execPath
// Runtime flags for the node process live in package.json ("tutti.nodeFlags"), one place for all launchers.
const { tutti } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const flags = process.argv[2] === 'start' ? (tutti?.nodeFlags ?? []) : []
const child = spawn(node, [...flags, join(root, 'src', 'cli', 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit' })
// Ctrl-C reaches the child from the terminal itself; we only wait for its clean shutdown.
process.on('SIGINT', () => {})
process.on('SIGTERM', () => child.kill('SIGTERM'))
child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)))
