"""ROS 2 nodes over the vla / sim / policies libraries: conversion and glue only."""
