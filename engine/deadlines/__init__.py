"""Time-driven work: deadline extensions and the worker that fires timers and other jobs."""
