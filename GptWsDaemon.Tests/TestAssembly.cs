// Fixtures may run side by side when the run asks for more than one worker (./test.sh --fast does; the full run keeps
// one, as CI does, so timing-sensitive process tests have the machine to themselves). Fixtures that measure memory or
// take a whole process are [NonParallelizable].
[assembly: Parallelizable(ParallelScope.Fixtures)]
