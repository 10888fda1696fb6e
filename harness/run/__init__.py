"""Running the grid: the runner's stages, the hashed run spec, executors (local,
SLURM, Ray), run-folder locks and learning curves."""
