from acbatch.cli import main

main()
