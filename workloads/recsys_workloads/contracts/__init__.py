"""What both planes must agree on: spec sub-objects, shared configs, names, env keys, run shapes.

Pure pydantic and the standard library: the operator imports recsys_workloads only through this
package (the layering contracts in pyproject's [tool.importlinter]), so nothing here may import the data plane's
runtime (numpy, redis, pyarrow, kfp, FAISS, TensorFlow, Feast) or the rest of recsys_workloads.
"""
