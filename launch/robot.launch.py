"""A real robot: policy_node with safety limits from a params YAML and every topic remappable.
dry_run is ON by default (commands are computed and logged, none is sent) and the policy waits for
vla/enable true; set dry_run:=false only after checking the limits in config/policy_robot.yaml.

    ros2 launch robot_ros robot.launch.py checkpoint:=/path/ckpt front_camera_topic:=/cam/color/image_raw
    ros2 launch robot_ros robot.launch.py checkpoint:=/path/ckpt dry_run:=false params_file:=/my/limits.yaml

Without a ROS install (pip venv): python -m robot_ros.launcher robot [name:=value ...]
The graph itself (nodes, parameters, remappings, arguments) is robot_ros.graphs.robot_graph().
"""


def generate_launch_description():
    from robot_ros.launch_description import build

    return build("robot")
