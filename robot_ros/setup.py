"""ament_python build of the ROS 2 package `robot_ros` (colcon build); the directory is the Python package.

    colcon build --base-paths robot_ros     # from the repository root
    ros2 launch robot_ros sim.launch.py

Launch files come from the repository's top-level launch/ folder, parameter files from config/; both go to
share/robot_ros, and config/ also ships inside the Python package (robot_ros.graphs reads it from there).
Executables are the console_scripts in setup.cfg. The libraries the nodes wrap (vla, policies, sim) are
the vla-stack distribution: pip install the repository (e.g. pip install '.[vla,sim,data]') into the same
Python. The guard below keeps this file inert when the top-level package is imported as robot_ros.setup.
"""

from glob import glob

from setuptools import setup

PACKAGE = "robot_ros"

if __name__ == "__main__":
    setup(
        name=PACKAGE,
        version="0.1.0",
        packages=[PACKAGE],
        package_dir={PACKAGE: "."},
        package_data={PACKAGE: ["config/*.yaml"]},
        data_files=[
            ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
            (f"share/{PACKAGE}", ["package.xml"]),
            (f"share/{PACKAGE}/launch", sorted(glob("../launch/*.launch.py"))),
            (f"share/{PACKAGE}/config", sorted(glob("config/*.yaml"))),
        ],
        install_requires=["setuptools"],
        zip_safe=False,
        maintainer="vla-stack maintainers",
        description="ROS 2 nodes of the vla-stack: VLA policy with a safety layer, sim bridge, teleop recorder",
        license="Apache-2.0",
        tests_require=["pytest"],
    )
