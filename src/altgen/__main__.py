from altgen.cli import main

raise SystemExit(main())
