/**
 * Runs a benchmark's main and makes sure the process ends: every bench closes what it opened, but
 * if a handle still keeps the event loop alive a few seconds after the figures are printed, it is
 * named on stderr (so the leak can be fixed) and the process exits anyway.
 */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => {
      const timer = setTimeout(() => {
        console.error(
          `bench finished but handles were still open: ${process.getActiveResourcesInfo().join(', ')}`,
        );
        process.exit(0);
      }, 5_000);
      timer.unref();
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
