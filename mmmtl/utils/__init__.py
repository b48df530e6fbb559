from .checkpoint import load_from_local, mmengine_checkpoint_globals

__all__ = ['load_from_local', 'mmengine_checkpoint_globals']
