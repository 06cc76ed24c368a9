from voicerelief.cli import main

raise SystemExit(main())
