"""Open a frame source from a URI: one scheme, one factory.

- ``webcam:N`` (``N`` defaults to 0): a local camera;
- ``rtsp://…``, ``rtsps://…``, ``http(s)://…``: a network stream;
- ``folder:PATH``: a folder of images;
- ``file:PATH`` or a plain path: a video file, or a folder of images if the path is a folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gate_agent.sources.base import FrameSource, SourceError
from gate_agent.sources.folder import ImageFolderSource
from gate_agent.sources.opencv import CaptureDeviceSource, VideoFileSource


@dataclass(frozen=True, slots=True)
class SourceOptions:
    realtime: bool = True  # pace files at their frame rate (a camera is always real time)
    stride: int = 1  # keep every n-th frame of a file


SourceFactory = Callable[[str, SourceOptions], FrameSource]

_FACTORIES: dict[str, SourceFactory] = {}


def register_source(scheme: str, factory: SourceFactory) -> None:
    """Add (or replace) the factory for ``scheme:`` URIs; it receives the whole URI."""
    _FACTORIES[scheme.lower()] = factory


def open_source(uri: str, options: SourceOptions | None = None) -> FrameSource:
    options = options or SourceOptions()
    scheme, sep, _rest = uri.partition(":")
    factory = _FACTORIES.get(scheme.lower()) if sep and len(scheme) > 1 else None
    if factory is None:
        return _path(uri, options)
    return factory(uri, options)


def _webcam(uri: str, _options: SourceOptions) -> FrameSource:
    index = uri.partition(":")[2] or "0"
    if not index.isdigit():
        raise SourceError(f"a webcam is webcam:<index>, got {uri!r}")
    return CaptureDeviceSource(int(index))


def _stream(uri: str, _options: SourceOptions) -> FrameSource:
    return CaptureDeviceSource(uri)


def _folder(uri: str, _options: SourceOptions) -> FrameSource:
    return ImageFolderSource(Path(uri.partition(":")[2]))


def _file(uri: str, options: SourceOptions) -> FrameSource:
    return _path(uri.partition(":")[2], options)


def _path(path: str, options: SourceOptions) -> FrameSource:
    if Path(path).is_dir():
        return ImageFolderSource(Path(path))
    if not Path(path).is_file():
        raise SourceError(f"no such video file or folder: {path}")
    return VideoFileSource(path, realtime=options.realtime, stride=options.stride)


for _scheme, _factory in {
    "webcam": _webcam,
    "rtsp": _stream,
    "rtsps": _stream,
    "http": _stream,
    "https": _stream,
    "folder": _folder,
    "file": _file,
}.items():
    register_source(_scheme, _factory)
