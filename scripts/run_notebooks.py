"""Executes every notebook in notebooks/ headless with nbclient; a failing cell fails the run.
Used by scripts/test.sh with HOTLINE_WAREHOUSE, HOTLINE_BIN and HOTLINE_NOTEBOOK_DATA set.
Executed copies (with outputs) go to the folder given as the first argument; the committed
notebooks stay without outputs."""
import pathlib
import sys
import time

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

root = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
failed = []
for path in sorted(root.glob("*.ipynb")):
    notebook = nbformat.read(path, as_version=4)
    if any(c.get("outputs") or c.get("execution_count") for c in notebook.cells if c.cell_type == "code"):
        failed.append(f"{path.name}: committed with outputs")
        continue
    started = time.time()
    # The kernel talks over local IPC sockets, not TCP, and is shut down before the next one.
    kernel = KernelManager(kernel_name="python3", transport="ipc", ip=str(out / f".{path.stem}.kernel"))
    try:
        NotebookClient(notebook, km=kernel, timeout=600, resources={"metadata": {"path": str(root)}}).execute()
        print(f"{path.name}: ok in {time.time() - started:.1f} s")
    except Exception as error:  # a failing cell: report it and go on to the others
        failed.append(f"{path.name}: {str(error)[-2000:]}")
        print(f"{path.name}: FAILED")
    finally:
        if kernel.has_kernel:
            kernel.shutdown_kernel(now=True)
    nbformat.write(notebook, out / path.name)
if failed:
    print("\n\n".join(failed), file=sys.stderr)
    sys.exit(1)
