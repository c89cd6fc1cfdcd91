"""The progress line of a run in flight (harness.commands.progress): what the child reports, as
the person watching reads it."""

from harness import registry
from harness.commands.progress import RunDisplay
from harness.run.executor import PlannedRun


def test_a_training_run_shows_its_step_and_pace_then_its_epoch_and_accuracy():
    display = RunDisplay("quick", repeats=2)
    handle = display.add(PlannedRun("cnn", registry.by_name("pytorch"), 1), "starting")
    task = display.progress.tasks[0]
    assert task.description == "cnn · pytorch #2" and task.total == 2  # the epoch, the accuracy
    notes = []
    for event in ({"event": "phase", "phase": "build"},
                  {"event": "window", "epoch": 1, "step": 24, "steps": 50,
                   "seconds_per_step": 0.4321},
                  {"event": "epoch", "epoch": 1, "epochs": 1, "seconds": 21.6},
                  {"event": "evaluated", "accuracy": 0.85, "seconds": 1.7}):
        display.event(handle, event)
        notes.append(task.fields["note"])
    assert notes == ["build", "epoch 1, step 24/50: 0.432 s a step", "epoch 1/1: 21.60 s",
                     "accuracy 0.850"]
    assert task.completed == 2
