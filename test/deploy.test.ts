import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES } from '../src/config/config.ts';
import { ROOT } from './helpers/cli.ts';

/**
 * No Docker engine runs in CI, so the deployment files are checked by reading them: they must run
 * the compiled build with production dependencies only, and name only variables config.ts reads.
 */
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface ComposeService {
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, unknown>;
}

describe('deployment files', () => {
  const compose = parse(read('docker-compose.yml')) as { services: Record<string, ComposeService> };
  const appServices = Object.entries(compose.services).filter(([, service]) => service.build === '.');

  it('when docker-compose.yml is read, then every Briefly service runs `briefly start` with a known role', () => {
    expect(appServices.map(([name]) => name).sort()).toEqual(['app', 'worker']);
    for (const [name, service] of appServices) {
      expect(service.command?.slice(0, 2), name).toEqual(['briefly', 'start']);
      expect(['all', 'web', 'worker', 'scheduler', 'bot'], name).toContain(service.command?.[3]);
    }
  });

  it('when docker-compose.yml sets environment variables, then config.ts reads every one of them', () => {
    for (const [name, service] of appServices) {
      for (const variable of Object.keys(service.environment ?? {})) {
        expect(CONFIG_VARIABLES, `${name}: ${variable}`).toContain(variable);
      }
    }
  });

  it('when the Dockerfile is read, then the runtime stage has production dependencies and dist/ only', () => {
    const dockerfile = read('Dockerfile');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages).toHaveLength(2);
    const [build, runtime] = stages as [string, string];
    expect(build).toMatch(/^\S+ AS build/);
    expect(build).toMatch(/^RUN npm ci\b/m);
    expect(build).toMatch(/^RUN npm run build$/m);
    expect(runtime).toMatch(/^RUN npm ci --omit=dev\b/m);
    expect(runtime).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(runtime).toMatch(/^COPY drizzle \.\/drizzle$/m);
    expect(runtime).toMatch(
      /^RUN chmod \+x bin\/briefly\.js && ln -s \/app\/bin\/briefly\.js \/usr\/local\/bin\/briefly$/m,
    );
    expect(runtime).toMatch(/^CMD \["briefly", "start"\]$/m);
    expect(runtime).not.toMatch(/tsx|typescript|COPY (src|\.) /);
    expect(read('.dockerignore').split('\n')).toEqual(
      expect.arrayContaining(['node_modules', 'dist', '.env']),
    );
  });

  it('when package.json is read, then production needs neither TypeScript nor tsx and start runs dist/', () => {
    const pkg = JSON.parse(read('package.json'));
    expect(Object.keys(pkg.dependencies)).not.toContain('tsx');
    expect(Object.keys(pkg.dependencies)).not.toContain('typescript');
    expect(Object.keys(pkg.devDependencies)).toEqual(expect.arrayContaining(['tsx', 'typescript']));
    expect(pkg.scripts.start).toBe(
      'node --enable-source-maps --max-semi-space-size=32 dist/src/cli.js start',
    );
    expect(pkg.scripts.prestart).toBe('node bin/build.js --if-stale');
    expect(pkg.bin.briefly).toBe('bin/briefly.js');
    expect(read('bin/briefly.js')).toContain("await import('../dist/src/cli.js')");
    expect(existsSync(join(ROOT, 'tsconfig.build.json'))).toBe(true);
  });

  it('when every configuration variable is listed, then README.md and .env.example document each one', () => {
    const readme = read('README.md');
    const example = read('.env.example');
    for (const variable of CONFIG_VARIABLES) {
      expect(readme, `README.md: ${variable}`).toMatch(new RegExp(`\`${variable}\``));
      expect(example, `.env.example: ${variable}`).toMatch(new RegExp(`^${variable}=`, 'm'));
    }
  });
});
