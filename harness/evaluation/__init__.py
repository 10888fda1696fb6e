"""Scores and what stands behind them: metrics, intervals, paired and seed-aware
tests, aggregates over seeds, `score` and the CI gate."""
