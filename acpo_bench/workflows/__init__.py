"""The top floor below the CLI: what a command does end to end, composed from the rooms below it.

evaluation (names -> model, tasks, data -> results files), pipeline (base eval -> pairs -> ACPO -> tuned eval ->
tables), sweep (one evaluation per frame count), rescore (predictions files -> task scores, no model), probes_build
(labelled videos -> a clip dataset). They may import every room (models, tasks, training, leaderboard, the core);
nothing below imports them (the import-linter contract in setup.cfg).
"""
