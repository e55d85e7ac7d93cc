"""Task plugins, installed as ``acpo_bench.tasks``. Third-party tasks register under the entry-point group
``acpo_bench.tasks`` (name = "module:TASK")."""

BUILTIN = {
    "swapped_audio": "acpo_bench.tasks.swapped_audio:TASK",
    "silent_video": "acpo_bench.tasks.silent_video:TASK",
    "sound_presence": "acpo_bench.tasks.sound_presence:TASK",
    "visual_presence": "acpo_bench.tasks.visual_presence:TASK",
    # external benchmarks: run only when named, with --data pointing at their files (README: Real benchmarks)
    "avhbench": "acpo_bench.tasks.avhbench:TASK",
    "avhbench_lenient": "acpo_bench.tasks.avhbench:LENIENT",
    "avhbench_swap_captions": "acpo_bench.tasks.avhbench:SWAP_CAPTIONS",
    "cmm": "acpo_bench.tasks.cmm:TASK",
    "cmm_official": "acpo_bench.tasks.cmm:OFFICIAL",
}
