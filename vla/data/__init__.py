"""Datasets in the LeRobotDataset v3.0 layout: writer, reader, stats, validation, tools, rosbag import.

`vla.data` imports neither torch nor `sim`; the PyTorch Dataset lives in `vla.data.torch_dataset`.
"""

from vla.data.format import CODEBASE_VERSION, camera_key
from vla.data.meta import DatasetMeta, load_stats
from vla.data.reader import DatasetReader
from vla.data.writer import DatasetWriter

__all__ = ["CODEBASE_VERSION", "DatasetMeta", "DatasetReader", "DatasetWriter", "camera_key", "load_stats"]
