/** npm run bench: every benchmark in turn, each printing its own figures. */
import { spawnSync } from 'node:child_process';

const BENCHES = [
  'bench/delivery.ts',
  'bench/failover.ts',
  'bench/briefings.ts',
  'bench/chaos.ts',
  'bench/mailouts.ts',
  'bench/appointments.ts',
];

for (const file of BENCHES) {
  console.log(`\n=== ${file}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], {
    stdio: 'inherit',
    env: process.env,
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
