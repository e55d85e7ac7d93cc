"""Reporting, installed as ``acpo_bench.leaderboard``: result tables, plots and the regression gate. Reads only
results files."""
