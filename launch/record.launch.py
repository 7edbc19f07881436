"""Record teleoperation (camera, joint states, ee_delta/gripper commands) into a LeRobot v3 dataset.
Episodes are started and saved on recorder/control: "start <task>", "save", "discard".

    ros2 launch robot_ros record.launch.py dataset_root:=data/teleop bag_dir:=data/teleop_bags
    ros2 launch robot_ros record.launch.py dataset_root:=data/sim_teleop use_sim:=true

Without a ROS install (pip venv): python -m robot_ros.launcher record [name:=value ...]
The graph itself (nodes, parameters, remappings, arguments) is robot_ros.graphs.record_graph().
"""


def generate_launch_description():
    from robot_ros.launch_description import build

    return build("record")
