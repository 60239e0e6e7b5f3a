"""The identity of this server process, recorded with every station it holds."""

import os
import socket
import uuid

NODE_ID = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
