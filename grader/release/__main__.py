from .notebooks import main

main()
