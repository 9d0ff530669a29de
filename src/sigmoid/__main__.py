from sigmoid.cli import main

raise SystemExit(main())
