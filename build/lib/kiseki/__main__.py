from kiseki.cli import main

raise SystemExit(main())
