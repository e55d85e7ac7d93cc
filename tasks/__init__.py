"""Task plugins, installed as ``acpo_bench.tasks``. Third-party tasks register under the entry-point group
``acpo_bench.tasks`` (name = "module:TASK")."""

BUILTIN = {
    "swapped_audio": "acpo_bench.tasks.swapped_audio:TASK",
    "silent_video": "acpo_bench.tasks.silent_video:TASK",
    "sound_presence": "acpo_bench.tasks.sound_presence:TASK",
    "visual_presence": "acpo_bench.tasks.visual_presence:TASK",
}
