"""nginx's configuration for scripts/cluster.sh: the production URL map (infra/lb.tf) from
functions.json — each service's route and everything under it to its instances, any other
path to the first service by name, which answers 404 in the envelope.

    python3 nginx.py functions.json instances.json port dir > nginx.conf
"""

import json
import os
import sys


def config(functions, instances, port, directory):
    services = sorted(
        (f for f in functions["functions"] if f["kind"] == "service"), key=lambda f: f["name"]
    )
    upstreams = "".join(
        f"  upstream {f['name']} {{\n"
        + "".join(f"    server 127.0.0.1:{p};\n" for p in instances[f["name"]])
        + "    keepalive 64;\n  }\n"
        for f in services
    )
    locations = "".join(
        f"    location = {f['route']} {{ proxy_pass http://{f['name']}; }}\n"
        f"    location {f['route']}/ {{ proxy_pass http://{f['name']}; }}\n"
        for f in services
    )
    # As root, workers would run as nobody and could not use this directory's temp paths.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes auto;
pid {directory}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {directory}/body;
  proxy_temp_path {directory}/proxy;
  fastcgi_temp_path {directory}/fastcgi;
  uwsgi_temp_path {directory}/uwsgi;
  scgi_temp_path {directory}/scgi;
{upstreams}  server {{
    listen 127.0.0.1:{port};
    # The functions bound bodies themselves (413 in the envelope) and stream chat replies.
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
{locations}    location / {{ proxy_pass http://{services[0]['name']}; }}
  }}
}}
"""


if __name__ == "__main__":
    functions_file, instances_file, port, directory = sys.argv[1:]
    with open(functions_file) as f, open(instances_file) as i:
        print(config(json.load(f), json.load(i), int(port), directory), end="")
