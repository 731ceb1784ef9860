from .sources import main

main()
