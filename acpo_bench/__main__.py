from acpo_bench.cli import main

raise SystemExit(main())
