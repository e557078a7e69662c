"""TensorBoard logs of a search's trials, written by the driver: nothing a trial writes needs a
shared disk.

A trial collects its scalars in memory (:class:`ScalarLog`, a training hook: ``train/l1`` at
every step, ``val/psnr`` and ``val/ssim`` at every validation) and sends the new ones with each
result it reports to Tune (``result["scalars"]``). On the driver, :class:`TensorBoardWriter` (a
Tune callback) writes them into ``RUN/tensorboard/<candidate key>`` as they arrive. A retried
trial starts its log again: the events of the failed attempt are purged from view.
"""

from __future__ import annotations

from pathlib import Path

from ..train.hooks import Hook
from .recovery import trial_key_of

__all__ = ["SCALARS", "ScalarLog", "TensorBoardWriter", "tensorboard_writer"]

SCALARS = "scalars"  # the key of a trial's result that carries its new scalars


class ScalarLog(Hook):
    """Collects (tag, step, value) for the driver: what :class:`~nas.train.hooks.TensorBoardLog`
    would write."""

    def __init__(self) -> None:
        self.points: list[tuple[str, int, float]] = []

    def on_losses(self, trainer, first_step, losses) -> None:
        self.points.extend(("train/l1", step, loss) for step, loss in enumerate(losses, first_step))

    def on_validation(self, trainer, record, improved) -> None:
        self.points.append(("val/psnr", record.step, float(record.psnr)))
        if record.ssim is not None:
            self.points.append(("val/ssim", record.step, float(record.ssim)))

    def take(self) -> list[list]:
        """The points collected since the last call, as plain lists (they travel through Ray)."""
        points, self.points = self.points, []
        return [list(point) for point in points]


class TensorBoardWriter:
    """Writes each trial's scalars into ``root/<key>`` on the driver (a Tune callback: build it
    with :func:`tensorboard_writer`). ``keys`` is ``key_of(trial)``, a trial's candidate key, or
    a list: ``keys[i]`` is the key of the trial whose config index is i."""

    def __init__(self, root: Path, keys) -> None:
        self.root, self.key_of = Path(root), trial_key_of(keys)
        self._writers: dict[str, object] = {}
        self._restarted: set[str] = set()

    def _writer(self, key: str, first_step: int):
        if key not in self._writers:
            from torch.utils.tensorboard import SummaryWriter  # slow to import: only when used

            folder, purge = self.root / key, None
            if key in self._restarted:
                # The earlier attempt's events go: its files are deleted (a new file can sort
                # before them, and TensorBoard reads a folder's files in name order), and a
                # TensorBoard that has read them drops them from first_step on (the purge).
                for stale in folder.glob("events.out.tfevents.*"):
                    stale.unlink()
                purge = first_step
            self._writers[key] = SummaryWriter(str(folder), purge_step=purge)
        return self._writers[key]

    def write(self, key: str, points: list) -> None:
        """Write ``points`` ([tag, step, value], ...) of candidate ``key``."""
        if not points:
            return
        writer = self._writer(key, min(int(step) for _, step, _ in points))
        for tag, step, value in points:
            writer.add_scalar(str(tag), float(value), int(step))
        writer.flush()

    def close(self, key: str) -> None:
        writer = self._writers.pop(key, None)
        if writer is not None:
            writer.close()

    def _key(self, trial) -> str:
        return self.key_of(trial)

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        self.write(self._key(trial), result.get(SCALARS) or [])

    def on_trial_recover(self, iteration, trials, trial, **info) -> None:
        key = self._key(trial)
        self.close(key)
        self._restarted.add(key)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self.close(self._key(trial))

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        key = self._key(trial)
        self.close(key)
        self._restarted.add(key)  # the run may start it again as a new trial (RetryLog)

    def on_experiment_end(self, trials, **info) -> None:
        for key in list(self._writers):
            self.close(key)


def tensorboard_writer(root: Path, keys) -> TensorBoardWriter:
    """A :class:`TensorBoardWriter` that is also a Ray Tune ``Callback``."""
    from ray import tune

    class TuneTensorBoardWriter(TensorBoardWriter, tune.Callback):
        pass

    return TuneTensorBoardWriter(root, keys)
