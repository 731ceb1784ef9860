from .batch import main

if __name__ == "__main__":  # the fork server imports __main__
    main()
