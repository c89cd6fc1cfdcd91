from harness.commands import main

raise SystemExit(main())
