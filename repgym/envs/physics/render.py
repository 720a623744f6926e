"""Pictures of a MuJoCo scene: an offscreen camera (for ``rgb_array`` and pixel observations) and a pygame window.

The ``human`` window shows the offscreen image, so one code path renders everywhere, and on a machine without a
display the offscreen renderer runs on EGL or OSMesa (see :mod:`repgym.envs.physics.headless`).
"""

from __future__ import annotations

import atexit
import os
import weakref

import mujoco  # the package's __init__ has chosen the OpenGL backend by now (see .headless)
import numpy as np

from repgym.envs.physics.headless import INSTALL_HINT

_OPEN_CAMERAS: weakref.WeakSet[OffscreenCamera] = weakref.WeakSet()
_CLOSE_AT_EXIT_REGISTERED = False


class OffscreenCamera:
    """Renders a model's named camera to ``(height, width, 3) uint8`` RGB arrays."""

    def __init__(self, model: mujoco.MjModel, width: int, height: int, camera: str) -> None:
        try:
            self._renderer: mujoco.Renderer | None = mujoco.Renderer(model, height, width)
        except Exception as err:  # GLFW without a display, missing EGL/OSMesa libraries, ...
            backend = os.environ.get("MUJOCO_GL", "glfw (default)")
            raise RuntimeError(
                f"MuJoCo could not render offscreen with MUJOCO_GL={backend}: {err}; {INSTALL_HINT}"
            ) from err
        self.camera = camera
        global _CLOSE_AT_EXIT_REGISTERED
        if not _CLOSE_AT_EXIT_REGISTERED:
            # Registered after MuJoCo's EGL backend registers eglTerminate (on its first context), so that it runs
            # first: freeing a context after eglTerminate, as destructors at exit would, raises and prints.
            atexit.register(_close_open_cameras)
            _CLOSE_AT_EXIT_REGISTERED = True
        _OPEN_CAMERAS.add(self)

    def render(self, data: mujoco.MjData) -> np.ndarray:
        """The camera's view of ``data`` (a new array)."""
        if self._renderer is None:
            raise RuntimeError("this camera was closed")
        self._renderer.update_scene(data, camera=self.camera)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def _close_open_cameras() -> None:
    for camera in list(_OPEN_CAMERAS):
        camera.close()


class ImageWindow:
    """A pygame window that shows RGB images, at most ``fps`` frames per second. Created lazily by ``render()``."""

    def __init__(self, width: int, height: int, title: str) -> None:
        import pygame  # only people need a window

        self.pygame = pygame
        pygame.init()
        self.screen = pygame.display.set_mode((width, height))
        pygame.display.set_caption(title)
        self.clock = pygame.time.Clock()

    def show(self, image: np.ndarray, fps: float) -> None:
        """Draw ``image`` ``(height, width, 3) uint8`` and wait for the next frame time."""
        pg = self.pygame
        pg.event.pump()
        surface = pg.surfarray.make_surface(np.ascontiguousarray(image.swapaxes(0, 1)))
        self.screen.blit(pg.transform.scale(surface, self.screen.get_size()), (0, 0))
        pg.display.flip()
        self.clock.tick(fps)

    def close(self) -> None:
        self.pygame.display.quit()
