#!/usr/bin/env node
// Compiles src/, blocks/ and emails/ to dist/ (tsconfig.build.json) and copies the non-TypeScript
// files src/ reads at run time (the demo calendar) next to the compiled modules.
//
//   node bin/build.js                 always build (npm run build)
//   node bin/build.js --if-stale      build only when dist/ is missing or older than a source file
//   node bin/build.js --check         exit 0 when dist/ is current, 2 when it needs a build
//   --out-dir DIR                     with any of the above: DIR instead of dist/ (tests)
//
// Plain JavaScript on purpose: it runs before anything is compiled and without tsx.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_DIRS = ['src', 'blocks', 'emails'];
const CONFIG_FILES = ['tsconfig.json', 'tsconfig.build.json'];
const STAMP = '.build-stamp';
const TS_SOURCE = /\.(ts|tsx)$/;

function* files(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

function newestSource() {
  let newest = 0;
  const inputs = [
    ...SOURCE_DIRS.flatMap((dir) => [...files(join(ROOT, dir))]),
    ...CONFIG_FILES.map((f) => join(ROOT, f)),
  ];
  for (const path of inputs) if (existsSync(path)) newest = Math.max(newest, statSync(path).mtimeMs);
  return newest;
}

/** True when outDir has no complete build, or a source or tsconfig changed after the last one. */
export function isStale(outDir = join(ROOT, 'dist')) {
  const stamp = join(outDir, STAMP);
  if (!existsSync(stamp)) return true;
  return newestSource() > statSync(stamp).mtimeMs;
}

/** True when this checkout has sources to build (a production image carries dist/ only). */
export function hasSources() {
  return existsSync(join(ROOT, 'src', 'cli.ts'));
}

export function build(outDir = join(ROOT, 'dist')) {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    throw new Error(
      'TypeScript is not installed: run `npm ci` (with dev dependencies), then `npm run build`.',
    );
  }
  // A clean build: modules whose source was deleted must not linger in dist/.
  rmSync(outDir, { recursive: true, force: true });
  const result = spawnSync(
    process.execPath,
    [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', outDir],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  if (result.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${result.status})`);
  for (const dir of SOURCE_DIRS) {
    for (const path of files(join(ROOT, dir))) {
      if (TS_SOURCE.test(path)) continue;
      const target = join(outDir, relative(ROOT, path));
      mkdirSync(dirname(target), { recursive: true });
      cpSync(path, target);
    }
  }
  writeFileSync(join(outDir, STAMP), `${new Date().toISOString()}\n`);
}

/** Builds when needed and possible; a production install (no sources, no TypeScript) uses dist/ as it is. */
export function ensureBuilt(outDir = join(ROOT, 'dist')) {
  if (!hasSources() || !isStale(outDir)) return;
  if (existsSync(join(outDir, STAMP))) {
    try {
      createRequire(import.meta.url).resolve('typescript/bin/tsc');
    } catch {
      process.stderr.write(
        'dist/ is older than the sources, but TypeScript is not installed: running dist/ as it is.\n',
      );
      return;
    }
  }
  process.stderr.write(`Building ${relative(ROOT, outDir)}/ (npm run build)…\n`);
  build(outDir);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf('--out-dir');
  const outDir = outIndex >= 0 ? resolve(args[outIndex + 1] ?? 'dist') : join(ROOT, 'dist');
  try {
    if (args.includes('--check')) process.exit(isStale(outDir) ? 2 : 0);
    if (args.includes('--if-stale')) ensureBuilt(outDir);
    else build(outDir);
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
