from optin.cli import main

main()
