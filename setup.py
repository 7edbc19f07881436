"""Package list for setuptools (metadata lives in pyproject.toml).

`conf/` of the fixed layout is installed as the package `vla_conf`, so a non-editable `pip install .`
carries the configs and Hydra reads them as `pkg://vla_conf`. `robot_ros/` is both the ament_python
package root (package.xml, its own setup.py for colcon) and the Python package.
"""

from setuptools import find_namespace_packages, find_packages, setup

packages = find_packages(include=["vla", "vla.*", "sim", "sim.*", "policies", "policies.*", "robot_ros", "robot_ros.*"])
packages += ["vla_conf"] + [f"vla_conf.{p}" for p in find_namespace_packages("conf")]

setup(
    packages=packages,
    package_dir={"vla_conf": "conf"},
)
