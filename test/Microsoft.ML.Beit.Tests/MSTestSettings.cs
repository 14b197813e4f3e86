// Tests share two cores and LibTorch's own thread pool; running them in parallel only adds contention.
[assembly: DoNotParallelize]
