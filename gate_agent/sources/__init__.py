"""Frame sources: video files, webcams, network streams and image folders behind one Protocol."""

from gate_agent.sources.base import Frame, FrameSource, SourceError
from gate_agent.sources.folder import ImageFolderSource
from gate_agent.sources.opencv import CaptureDeviceSource, VideoFileSource
from gate_agent.sources.registry import SourceOptions, open_source, register_source

__all__ = [
    "CaptureDeviceSource",
    "Frame",
    "FrameSource",
    "ImageFolderSource",
    "SourceError",
    "SourceOptions",
    "VideoFileSource",
    "open_source",
    "register_source",
]
