"""Running the grid: the runner's stages, the hashed run spec, executors (local,
SLURM), run-folder locks and learning curves."""
