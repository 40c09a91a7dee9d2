from lgtrace.server.cli import main

main()
