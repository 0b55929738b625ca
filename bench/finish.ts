/**
 * Runs a benchmark's main and makes sure the process ends: every bench closes what it opened, but
 * if a handle still keeps the event loop alive a few seconds after the figures are printed, it is
 * named on stderr and the process exits anyway. (Known: after an in-process scheduler ran a job,
 * Agenda's job-alive check leaves a timer of up to half a lock lifetime that stop() cannot clear.)
 */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => {
      const timer = setTimeout(() => {
        console.error(
          `bench done; exiting with handles still open: ${process.getActiveResourcesInfo().join(', ')}`,
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
