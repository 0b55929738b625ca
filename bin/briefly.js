#!/usr/bin/env node
// The `briefly` command runs the compiled CLI in dist/. In a checkout it first builds dist/ when it is
// missing or older than the sources (so `npx briefly …` works right after `npm ci`); a production image
// has no sources and runs dist/ as it is.
import { ensureBuilt } from './build.js';

try {
  ensureBuilt();
} catch (error) {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
// Stack traces point at the TypeScript sources (dist/ carries sourcemaps).
process.setSourceMapsEnabled(true);
await import('../dist/src/cli.js');
