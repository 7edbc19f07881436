"""`vla-record`: scripted-expert demonstrations from the sim suites into LeRobot v3.0 datasets."""
