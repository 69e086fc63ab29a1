/**
 * The config file, `$XDG_CONFIG_HOME/tutti/config.json` (or `TUTTI_CONFIG`):
 * the lowest layer under flags and environment. Its keys are the flag names of
 * `tutti start` (`{"library": ["~/Music"], "api-port": 7707, "no-mdns": true}`);
 * each value becomes the flag's environment twin unless the environment
 * already sets it, so one parser (parseNodeConfig) sees all three layers.
 */
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, join } from 'node:path'
import { NODE_FLAGS, UsageError, xdgDirs } from './config.ts'

export const CONFIG_FILE_NAME = 'config.json'

export function configFilePath(env: NodeJS.ProcessEnv): string {
  const named = env.TUTTI_CONFIG
  return named !== undefined && named !== '' ? named : join(xdgDirs(env).configDir, CONFIG_FILE_NAME)
}

function expandHome(value: string, env: NodeJS.ProcessEnv): string {
  return value === '~' || value.startsWith('~/') ? join(env.HOME ?? homedir(), value.slice(1)) : value
}

/** Environment entries for the settings in a parsed config file. Pure. */
export function configFileEnv(
  settings: unknown,
  env: NodeJS.ProcessEnv,
  source: string,
): Record<string, string> {
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings))
    throw new UsageError(`${source}: expected a JSON object of flag names, e.g. {"library": ["~/Music"]}`)
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(settings)) {
    const flag = NODE_FLAGS.find((f) => f.flag === key)
    if (flag === undefined)
      throw new UsageError(`${source}: unknown setting "${key}" (the keys are the flags of tutti start)`)
    const where = `${source}: "${key}"`
    let text: string
    if (flag.kind === 'boolean') {
      if (typeof value !== 'boolean') throw new UsageError(`${where} must be true or false`)
      text = value ? '1' : ''
    } else if (flag.kind === 'list') {
      const items = Array.isArray(value) ? value : [value]
      if (!items.every((item) => typeof item === 'string'))
        throw new UsageError(`${where} must be a string or a list of strings`)
      // Lists of paths split on the path delimiter in the environment, multiaddrs on commas.
      const split = flag.arg === 'MULTIADDR' ? ',' : delimiter
      text = items.map((item) => expandHome(item, env)).join(split)
    } else {
      if (typeof value !== 'string' && typeof value !== 'number')
        throw new UsageError(`${where} must be a string or a number`)
      text = expandHome(String(value), env)
    }
    if (env[flag.env] === undefined) out[flag.env] = text
  }
  return out
}

/**
 * The environment the node's options are parsed from: the process's, over
 * the config file's settings. A missing file is no error; a broken one is.
 */
export function environmentWithConfigFile(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const path = configFilePath(env)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && env.TUTTI_CONFIG === undefined) return env
    throw new UsageError(`config file ${path}: ${(err as Error).message}`)
  }
  let settings: unknown
  try {
    settings = JSON.parse(text)
  } catch (err) {
    throw new UsageError(`config file ${path}: not JSON (${(err as Error).message})`)
  }
  return { ...configFileEnv(settings, env, `config file ${path}`), ...env }
}
