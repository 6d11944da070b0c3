"""Checkpointing that always leaves a checkpoint ``--resume`` can use."""
import os.path as osp

from mmdet.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from ...utils.atomic_write import atomic_write


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` that survives a kill at any
    moment.

    MMEngine's hook deletes the oldest checkpoint (``max_keep_ckpts``) before
    it writes the new one, and rewrites ``last_checkpoint`` in place: a kill
    during the checkpoint write can leave ``last_checkpoint`` naming a deleted
    file, or an empty ``last_checkpoint``, and ``--resume`` then fails. This
    hook writes the checkpoint (atomically, through mmpfcn's local file
    backend), then ``last_checkpoint`` (atomically), and only then deletes
    outdated checkpoints. The checkpoint records the kept ids including
    itself, so a run resumed from it deletes the outdated one if the kill
    came before the deletion.
    """

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        track = self.max_keep_ckpts > 0 and not (
            self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step)
        if track:
            runner.message_hub.update_info('keep_ckpt_ids',
                                           [*self.keep_ckpt_ids, step])
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if is_main_process():
            with atomic_write(osp.join(runner.work_dir, 'last_checkpoint'),
                              'w') as file:
                file.write(self.last_ckpt)
        if track:
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                self._remove_checkpoint(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

    def _remove_checkpoint(self, step: int) -> None:
        """Delete the checkpoint (file, or DeepSpeed folder) of ``step``."""
        if not is_main_process():
            return
        path = self.file_backend.join_path(self.out_dir,
                                           self.filename_tmpl.format(step))
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):
            self.file_backend.rmtree(path)
