from kubecrypt.cli import main

main()
