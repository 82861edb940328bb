"""The artifact lifecycle's domain rules: versions (what an edit may change and how version
N+1 is made), the word-level diff and compare model, and single-use edit links.

Pure functions over the artifact content dict the executor writes; storage of versions,
lineage and feedback lives in storage/repos/.
"""
