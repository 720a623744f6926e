"""Jointed bodies in MuJoCo with gravity on or off: a reaching arm (2 or 3 links) and a thrower.

Importing this package chooses MuJoCo's OpenGL backend for machines without a display (``MUJOCO_GL``; see
:mod:`repgym.envs.physics.headless`) before any of its modules imports MuJoCo. The env classes live in
:mod:`.reach` and :mod:`.thrower`, the ``DiscretizeActions`` wrapper in :mod:`.wrappers`.
"""

from repgym.envs.physics.headless import select_gl_backend

select_gl_backend()
