"""Simulation: the sim bridge (tabletop or Meta-World) driven by a policy, optionally recorded.

    ros2 launch robot_ros sim.launch.py policy:=vla checkpoint:=/path/ckpt task_id:=tabletop/pick
    ros2 launch robot_ros sim.launch.py record:=true dataset_root:=outputs/sim_ds

Without a ROS install (pip venv): python -m robot_ros.launcher sim [name:=value ...]
The graph itself (nodes, parameters, remappings, arguments) is robot_ros.graphs.sim_graph().
"""


def generate_launch_description():
    from robot_ros.launch_description import build

    return build("sim")
