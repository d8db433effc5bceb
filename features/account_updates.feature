Feature: Updating an account
  PUT /accounts/{id} replaces the whole account and PATCH changes only the fields
  it is sent (DPaaS API reference, API conventions). Neither can set what the
  server owns, nor move an account to another organization, and only a principal
  with the right may update.

  Background:
    Given the admin user is logged in

  @must @ACC-10
  Scenario: PUT stores the name and metadata as sent
    Given they have created 1 account
    When they PUT the account they created with the body {"name": "NEW", "is_default": false, "metadata": {"team": "platform", "tier": 2}}
    Then the response status is a success
    And a later GET of the account they created shows what was sent

  @should @ACC-10
  Scenario: PUT answers 200 with the updated account
    Given they have created 1 account
    When they PUT the account they created with the body {"name": "NEW", "metadata": {"tier": 3}}
    Then the response status is 200
    And the response body is the account as it was sent

  @should @ACC-10
  Scenario: PUT without metadata returns it to its create default
    Given they have created 1 account with the metadata {"team": "platform"}
    When they PUT the account they created with the body {"name": "NEW"}
    Then the response status is a success
    And a later GET of the account they created shows the metadata {} and "is_default" false

  @must @ACC-10 @ERR-0
  Scenario Outline: PUT without a name that is a string is a validation error: <body>
    Given they have created 1 account
    When they PUT the account they created with the body <body>
    Then the response is a "ValidationError" error with status 422
    And the error details name "name"

    Examples:
      | body                       |
      | {"metadata": {"tier": 1}}  |
      | {"name": 5}                |
      | {"name": null}             |

  @must @ACC-11
  Scenario: PATCH of the name leaves every other field as it was
    Given they have created 1 account with the metadata {"team": "platform"}
    When they PATCH the account they created with the body {"name": "NEW"}
    Then the response status is a success
    And a later GET of the account they created shows what was sent and every other field as it was

  @must @ACC-11
  Scenario: PATCH of the metadata leaves the name as it was
    Given they have created 1 account with the metadata {"team": "platform"}
    When they PATCH the account they created with the body {"metadata": {"tier": 2}}
    Then the response status is a success
    And a later GET of the account they created shows the name as it was and the metadata {"tier": 2}, replaced or merged

  @must @ACC-11 @ERR-0
  Scenario Outline: PATCH with <field> null or wrongly typed is a validation error: <body>
    Given they have created 1 account
    When they PATCH the account they created with the body <body>
    Then the response is a "ValidationError" error with status 422
    And the error details name "<field>"

    Examples:
      | field      | body                   |
      | name       | {"name": null}         |
      | name       | {"name": 5}            |
      | is_default | {"is_default": "yes"}  |
      | metadata   | {"metadata": "text"}   |

  @must @ACC-12
  Scenario Outline: <method> cannot set an account's <field>
    Given they have created 1 account
    When they <method> the account they created with a new name and "<field>" set to <value>
    Then the update was refused or left "<field>" of the account they created as the server set it

    Examples:
      | method | field      | value                            |
      | PUT    | id         | "acc-chosen-by-the-client"       |
      | PATCH  | id         | "acc-chosen-by-the-client"       |
      | PUT    | created_at | "2001-01-01T00:00:00Z"           |
      | PATCH  | created_at | "2001-01-01T00:00:00Z"           |
      | PUT    | updated_at | "2001-01-01T00:00:00Z"           |
      | PATCH  | updated_at | "2001-01-01T00:00:00Z"           |
      | PUT    | deleted_at | "2001-01-01T00:00:00Z"           |
      | PATCH  | deleted_at | "2001-01-01T00:00:00Z"           |

  @must @ACC-12
  Scenario Outline: <method> cannot move an account to another organization
    Given the other user is logged in
    And they have created 1 account
    And the admin user is logged in
    And they have created 1 account
    When they <method> the account they created with a new name and the organization of the account the other user created
    Then the update was refused or left "organization_id" of the account they created as the server set it
    And the other user cannot read the account the admin user created

    Examples:
      | method |
      | PUT    |
      | PATCH  |

  @must @ACC-13
  Scenario Outline: <method> keeps created_at and never moves updated_at backwards
    Given they have created 1 account
    When they <method> the account they created with a new name
    Then the response status is a success
    And a later GET of the account they created keeps its created_at, and its updated_at is not earlier

    Examples:
      | method |
      | PUT    |
      | PATCH  |

  @must @ACC-22 @ERR-0
  Scenario Outline: A user without the right to <method> an account is forbidden, and it stays as it was
    Given they have created 1 account
    And the limited user is logged in
    When they <method> the account the admin user created
    Then the response is a "Forbidden" error with status 403
    And the admin user reads the account they created unchanged

    Examples:
      | method |
      | PUT    |
      | PATCH  |
      | DELETE |

  @must @ERR-4 @ERR-5 @ACC-10
  Scenario Outline: Whatever a PUT accepts still reads back as valid JSON: <payload>
    Given they have created 1 account
    When they PUT the account they created with hostile but valid input: <payload>
    Then the response is a success or a client error with a JSON error body, never a server error
    And every page of accounts still reads as valid JSON for every principal of their organization
    And the account they created, and every page of accounts with deleted ones, still read as valid JSON

    Examples:
      | payload                                     |
      | a number too large for a double in metadata |
      | a 400-digit integer in metadata             |
      | a lone surrogate escape in the name         |
      | a lone surrogate escape in a metadata key   |
      | a name of 10,000 characters                 |
      | metadata nested 950 levels deep             |

  @must @ERR-4 @ERR-5 @ACC-11
  Scenario Outline: Whatever a PATCH accepts still reads back as valid JSON: <payload>
    Given they have created 1 account
    When they PATCH the account they created with hostile but valid input: <payload>
    Then the response is a success or a client error with a JSON error body, never a server error
    And every page of accounts still reads as valid JSON for every principal of their organization
    And the account they created, and every page of accounts with deleted ones, still read as valid JSON

    Examples:
      | payload                                     |
      | a number too large for a double in metadata |
      | a 400-digit integer in metadata             |
      | a lone surrogate escape in the name         |
      | a lone surrogate escape in a metadata key   |
      | a name of 10,000 characters                 |
      | metadata nested 950 levels deep             |
